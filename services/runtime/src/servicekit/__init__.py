"""The runtime every service imports: one copy of the plumbing, so the services hold only their rules."""
