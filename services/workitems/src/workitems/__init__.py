"""Work items: raised from expense and notification events, ticked off automatically or by an officer."""
