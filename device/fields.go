package device

// fieldSep (FS, 0x1C) separates the key=value fields of a payload.
const fieldSep = 0x1c
