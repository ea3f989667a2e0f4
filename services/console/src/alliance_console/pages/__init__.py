"""The pages, one module per area; each page calls the services with the person's token."""
