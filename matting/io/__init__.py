"""The file boundary: image files in (``images``), bytes encoded (``codecs``), files written
safely (``files``). uint8 lives here and at export; the library inside works on float in [0, 1]."""
