"""Back up and restore one organisation (see service.py); `npsloop backup ...`."""
