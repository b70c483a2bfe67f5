"""npsloop: self-hostable NPS and customer-experience platform."""

__version__ = "0.1.0"
