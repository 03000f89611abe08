"""The officers' front door: every staff action of the catalogue as a command from a verified officer."""
