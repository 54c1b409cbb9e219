package queue

import (
	"encoding/binary"
	"os"
)

// The bbolt page layout read by scanPages (bbolt 1.x, little-endian on
// every platform posagent is built for):
//
//	page header, 16 bytes: id u64, flags u16, count u16, overflow u32
//	leaf element, 16 bytes: flags u32, pos u32, ksize u32, vsize u32,
//	  key at element offset + pos, value right after the key
//	meta page body: magic u32, version u32, pageSize u32, ...
//
// A leaf element with flag 1 is a bucket; its value is a 16-byte bucket
// header (root page u64, sequence u64) and, when the root is 0, an inline
// page holding the bucket's elements.
const (
	pageHeaderSize  = 16
	leafElementSize = 16
	leafPageFlag    = 0x02
	bucketLeafFlag  = 0x01
	boltMagic       = 0xED0CDAED
)

// scanPages reads the file at path page by page and returns the newest
// revision of every record it can decode, however the tree that should
// lead to it is damaged, and how many pages looked like nothing bbolt
// writes (pages never written are not counted). It reads the whole file
// into memory.
func scanPages(path string) (map[string]Payment, int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	ps := pageSize(data)
	found := map[string]Payment{}
	bad := 0
	for i := 2; (i+1)*ps <= len(data); i++ {
		page := data[i*ps:]
		id := binary.LittleEndian.Uint64(page)
		flags := binary.LittleEndian.Uint16(page[8:])
		overflow := int(binary.LittleEndian.Uint32(page[12:]))
		switch {
		case id == 0 && flags == 0:
			continue // never written
		case id != uint64(i):
			bad++ // overwritten with something else
			continue
		case flags != leafPageFlag:
			continue // branch, freelist: no records
		case overflow > len(data)/ps-i-1:
			bad++
			continue
		}
		scanLeaf(page[:(overflow+1)*ps], found, 0)
		i += overflow
	}
	return found, bad, nil
}

// pageSize reads the page size from the first readable meta page, or
// returns 4096.
func pageSize(data []byte) int {
	if len(data) >= 32 && binary.LittleEndian.Uint32(data[16:]) == boltMagic {
		if ps := int(binary.LittleEndian.Uint32(data[24:])); ps >= 512 && ps&(ps-1) == 0 {
			return ps
		}
	}
	for _, ps := range []int{4096, 8192, 16384, 65536, 1024, 2048} {
		if len(data) >= ps+32 && binary.LittleEndian.Uint32(data[ps+16:]) == boltMagic {
			return ps
		}
	}
	return 4096
}

// scanLeaf decodes the elements of the leaf page in buf into found,
// descending into inline buckets, and checks every offset against buf.
func scanLeaf(buf []byte, found map[string]Payment, depth int) {
	if len(buf) < pageHeaderSize || depth > 4 {
		return
	}
	count := int(binary.LittleEndian.Uint16(buf[10:]))
	for i := range count {
		at := pageHeaderSize + i*leafElementSize
		if at+leafElementSize > len(buf) {
			return
		}
		flags := binary.LittleEndian.Uint32(buf[at:])
		pos := int(binary.LittleEndian.Uint32(buf[at+4:]))
		ksize := int(binary.LittleEndian.Uint32(buf[at+8:]))
		vsize := int(binary.LittleEndian.Uint32(buf[at+12:]))
		start := at + pos
		if pos < 0 || ksize < 0 || vsize < 0 || start < 0 || start > len(buf) || ksize > len(buf)-start || vsize > len(buf)-start-ksize {
			continue
		}
		key, val := buf[start:start+ksize], buf[start+ksize:start+ksize+vsize]
		if flags&bucketLeafFlag != 0 {
			if len(val) > 16 && binary.LittleEndian.Uint64(val) == 0 {
				inline := val[16:]
				if len(inline) >= pageHeaderSize && binary.LittleEndian.Uint16(inline[8:]) == leafPageFlag {
					scanLeaf(inline, found, depth+1)
				}
			}
			continue
		}
		p, err := decode(key, val)
		if err != nil {
			continue
		}
		if old, ok := found[p.RequestID]; !ok || p.Revision > old.Revision {
			found[p.RequestID] = p
		}
	}
}
