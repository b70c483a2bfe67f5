"""Personal data: a contact's data exported or erased on request, retention per organisation,
and the audit log of who did what."""
