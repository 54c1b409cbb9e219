package queue

import (
	"bytes"
	"encoding/binary"
)

// scanPages reads the file image data page by page and returns the newest
// revision of every record it can decode, however the tree that should
// lead to it is damaged, and how many pages looked like nothing bbolt
// writes (pages never written are not counted). ps is the page size, 0
// when no meta page was readable.
//
// Schema-2 records carry their length and checksum, so they are found in
// the file's bytes wherever they lie (scanRecords); schema-1 records are
// found through the leaf pages' elements (scanLeaf). For schema 0 (the
// stamp unreadable), the file is schema 2 when any schema-2 record is
// found in it: a migrated file still holds stale schema-1 copies on its
// free pages, which must not come back.
// Records of the ids in have are not decoded again: what the tree gave
// wins over anything a scan finds.
func scanPages(data []byte, ps, schema int, have map[string]Payment) (map[string]Payment, int) {
	if ps == 0 {
		ps = 4096
	}
	old := map[string]Payment{}
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
		case overflow < 0 || overflow > len(data)/ps-i-1:
			bad++
			continue
		}
		if schema < framedSchema {
			scanLeaf(page[:(overflow+1)*ps], old, 0)
		}
		i += overflow
	}
	if schema == 1 {
		return old, bad
	}
	found := scanRecords(data, have)
	if schema == 0 && len(found) == 0 {
		return old, bad
	}
	return found, bad
}

// keep puts p into found unless found holds a newer revision.
func keep(found map[string]Payment, p Payment) {
	if old, ok := found[p.RequestID]; !ok || p.Revision > old.Revision {
		found[p.RequestID] = p
	}
}

// recordStart is how the JSON of every record begins (Payment's first
// field).
var recordStart = []byte(`{"req":"`)

// scanRecords finds every whole schema-2 record in data by its frame:
// each place the JSON of a record starts, preceded by a frame whose length
// fits and whose checksum matches. Nothing but the record's own bytes
// needs to be intact. Records of the ids in have are skipped.
func scanRecords(data []byte, have map[string]Payment) map[string]Payment {
	found := map[string]Payment{}
	for from := 0; ; {
		at := bytes.Index(data[from:], recordStart)
		if at < 0 {
			return found
		}
		at += from
		from = at + 1
		if at < recordHeaderSize {
			continue
		}
		// Any bytes may precede text that looks like a record's start (the
		// salvage history names payments the same way): a length shorter
		// than that text, or longer than what is left, frames no record.
		n := int64(binary.BigEndian.Uint32(data[at-recordHeaderSize+1:]))
		if n < int64(len(recordStart)) || n > int64(len(data)-at) {
			continue
		}
		id := data[at+len(recordStart) : at+int(n)]
		if end := bytes.IndexByte(id, '"'); end >= 0 {
			if _, ok := have[string(id[:end])]; ok {
				continue
			}
		}
		p, err := decodeRecord(data[at-recordHeaderSize : at+int(n)])
		if err != nil {
			continue
		}
		keep(found, p)
	}
}

// scanLeaf decodes the schema-1 records on the leaf page in buf into
// found, descending into inline buckets, and checks every offset against
// buf.
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
		p, err := decodeJSON(val)
		if err != nil || p.RequestID != string(key) {
			continue
		}
		keep(found, p)
	}
}
