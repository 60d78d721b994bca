"""The staff dashboard: the customer list, its counts, the CSV export, and the pages."""
