"""notification: the MSP implementation procedure (104-07050030)."""
