"""Where data comes from: table files, archives, URLs, SQL, folders and the built-in datasets."""
