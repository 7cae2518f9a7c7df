"""How each kind of data (tables, images, text) becomes model inputs: the fitted input plans."""
