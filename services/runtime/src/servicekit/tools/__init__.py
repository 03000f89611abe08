"""Operators' tools: dead letters, provisioning, and the local secrets (a throw-away CA) of development."""
