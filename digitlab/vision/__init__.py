"""Untrusted pixels -> model input: files and bytes read with every limit checked before decoding (imageio,
fastpng), ink on paper read as a glyph (glyph), one view recipe per kind of data (views), a row of digits
read as a number (numbers), and views as pictures (pictures)."""
