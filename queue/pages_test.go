package queue

import "encoding/binary"

// pageSize reads the page size from the first meta page of the file image
// data, or returns 4096.
func pageSize(data []byte) int {
	if len(data) >= 32 && binary.LittleEndian.Uint32(data[16:]) == boltMagic {
		if ps := int(binary.LittleEndian.Uint32(data[24:])); ps >= 1024 && ps&(ps-1) == 0 {
			return ps
		}
	}
	return 4096
}
