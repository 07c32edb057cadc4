"""contacts: accounts (customers, vendors, partners, prospects), people and addresses."""
