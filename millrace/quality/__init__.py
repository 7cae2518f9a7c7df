"""Great Expectations gates, suggested data contracts and Data Docs."""
