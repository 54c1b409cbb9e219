package device

// crcTable holds CRC-16/KERMIT (reflected polynomial 0x8408) for every byte
// value. It is computed once and only read afterwards.
var crcTable = makeCRCTable()

func makeCRCTable() *[256]uint16 {
	var t [256]uint16
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0x8408
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return &t
}

// CRC16 returns the CRC-16/KERMIT of p continued from crc: reflected polynomial
// 0x8408, initial value 0x0000 (pass 0 to start), no final XOR. The frame check
// of the register protocol is CRC16(0, body+ETX), sent low byte first.
func CRC16(crc uint16, p []byte) uint16 {
	for _, b := range p {
		crc = crcByte(crc, b)
	}
	return crc
}

func crcByte(crc uint16, b byte) uint16 {
	return crc>>8 ^ crcTable[byte(crc)^b]
}
