"""`contacts_credit`: a test addon that extends contacts through every hook it publishes."""
