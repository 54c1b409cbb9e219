package queue

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// The integrity check does not let bbolt read a file it has not verified.
// bbolt trusts every page it reads: a bit flipped in a page header, an
// element or the freelist makes it read outside its memory map (a fault
// that, on a goroutine of bbolt's own, kills the process), loop forever,
// or allocate without bound. So walkFile reads the file into memory and
// walks it the way bbolt would, from the meta page bbolt would choose,
// checking every offset against the bytes it has, visiting every page at
// most once, and bounding the depth of the tree.
//
// Invariant, checked by walkFile and relied on by every bbolt read after
// Open: the file holds two valid meta pages; every page reachable from the
// chosen meta's root lies inside the file and below its high-water mark,
// has the id of its position and a branch or leaf type, is reached exactly
// once, and spans exactly the pages its contents need; every element lies
// inside its page, its data follows the previous element's without a gap
// (as bbolt writes them), and its key sorts strictly after the previous
// key and within the range the parent branch gives it; a bucket value is a
// 16-byte header with either a valid root page or a valid inline leaf; and
// the freelist together with the reachable pages accounts for every page
// below the high-water mark exactly once. A file that breaks any of this
// is salvaged without bbolt (salvage.go).
//
// The bbolt page layout (bbolt 1.x, little-endian on every platform
// posagent is built for):
//
//	page header, 16 bytes: id u64, flags u16, count u16, overflow u32
//	branch element, 16 bytes: pos u32, ksize u32, child page u64
//	leaf element, 16 bytes: flags u32, pos u32, ksize u32, vsize u32
//	  (pos counts from the element itself; the key follows at pos, the
//	  value right after the key)
//	meta page body: magic u32, version u32, pageSize u32, flags u32,
//	  root bucket (root page u64, sequence u64), freelist page u64,
//	  high-water mark u64, txid u64, FNV-64a checksum u64 of the 56
//	  bytes before it
//	freelist page: count page ids u64 after the header; a count of
//	  0xFFFF means the first u64 holds the real count
//
// A leaf element with flag 1 is a bucket; its value is a 16-byte bucket
// header (root page u64, sequence u64) and, when the root is 0, an inline
// leaf page holding the bucket's elements.
const (
	pageHeaderSize    = 16
	leafElementSize   = 16
	branchElementSize = 16
	branchPageFlag    = 0x01
	leafPageFlag      = 0x02
	metaPageFlag      = 0x04
	freelistPageFlag  = 0x10
	bucketLeafFlag    = 0x01
	bucketHeaderSize  = 16
	boltMagic         = 0xED0CDAED
	boltVersion       = 2
	metaSize          = 64 // the meta body, checksum included
	noFreelist        = ^uint64(0)
	// maxTreeDepth bounds how deep the walk descends; bbolt trees of a
	// store of any size posagent keeps are a handful of levels deep.
	maxTreeDepth = 32
)

// pair is one key and value of a bucket, as slices of the file image.
type pair struct{ k, v []byte }

// fileImage is a bbolt file read into memory and walked (walkFile).
type fileImage struct {
	data []byte
	ps   int    // page size; 0 when no meta page was readable
	high uint64 // the chosen meta's high-water mark: pages [0, high)
	// buckets holds, per top-level bucket, the pairs that could be read,
	// in key order. A bucket whose header was unreadable is absent.
	buckets map[string][]pair
	// visit passes the pairs of the top-level buckets it names (and with
	// "", of the others) to its function instead of keeping them in
	// buckets (walkFile).
	visit map[string]func(k, v []byte)
	// damage lists what is wrong with the structure; empty when the file
	// keeps the invariant above.
	damage problems
	// unreadable is true when some pages reachable from the root could not
	// be read, so buckets may lack pairs the file holds.
	unreadable bool
	// seen marks the pages reached from the root and the freelist.
	seen []bool
	// stop, when not nil, ends the walk early once it reports true
	// (walkFileAt).
	stop func() bool
}

// readAll reads the whole of f from its start, without moving its offset.
func readAll(f *os.File) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, fi.Size()), data); err != nil {
		return nil, err
	}
	return data, nil
}

// meta is the part of a meta page the walk uses.
type meta struct {
	ps             int
	root, freelist uint64
	high, txid     uint64
}

// readMeta parses and validates the meta page at byte offset off, as bbolt
// does (magic, version, checksum), and also its page header.
func readMeta(data []byte, off int) (meta, error) {
	if off < 0 || off+pageHeaderSize+metaSize > len(data) {
		return meta{}, fmt.Errorf("the file ends at byte %d, before the meta page at %d", len(data), off)
	}
	page := data[off:]
	body := page[pageHeaderSize : pageHeaderSize+metaSize]
	le := binary.LittleEndian
	switch {
	case le.Uint32(body) != boltMagic:
		return meta{}, fmt.Errorf("the meta page at byte %d is not a bbolt meta page", off)
	case le.Uint32(body[4:]) != boltVersion:
		return meta{}, fmt.Errorf("the meta page at byte %d has bbolt version %d", off, le.Uint32(body[4:]))
	}
	h := fnv.New64a()
	h.Write(body[:56])
	if h.Sum64() != le.Uint64(body[56:]) {
		return meta{}, fmt.Errorf("the meta page at byte %d fails its checksum", off)
	}
	m := meta{
		ps: int(le.Uint32(body[8:])), root: le.Uint64(body[16:]),
		freelist: le.Uint64(body[32:]), high: le.Uint64(body[40:]), txid: le.Uint64(body[48:]),
	}
	if le.Uint16(page[8:]) != metaPageFlag || m.ps < 1024 || m.ps > 1<<16 || m.ps&(m.ps-1) != 0 {
		return meta{}, fmt.Errorf("the meta page at byte %d has a bad header or page size %d", off, m.ps)
	}
	return m, nil
}

// walkFile walks the bbolt file in data; see the invariant above. It never
// reads outside data and visits each page at most once, so its time and
// memory are bounded by the file's size.
//
// The pairs of a top-level bucket named in visit are passed to its
// function, in key order, instead of being kept in buckets (which then
// holds the name with no pairs), so that a walk can check a large file
// without holding a slice per record; the function of the name "", when
// there is one, takes the pairs of every bucket not named. The buckets are
// walked in name order, so a visitor of one bucket may read the pairs kept
// of a bucket whose name sorts before it.
func walkFile(data []byte, visit map[string]func(k, v []byte)) *fileImage {
	img := &fileImage{data: data, buckets: map[string][]pair{}, visit: visit}
	m0, err0 := readMeta(data, 0)
	ps := m0.ps
	if err0 != nil {
		ps = 0
		for _, try := range []int{4096, os.Getpagesize(), 1024, 2048, 8192, 16384, 32768, 65536} {
			if m, err := readMeta(data, try); err == nil && m.ps == try {
				ps = try
				break
			}
		}
	}
	if ps == 0 {
		img.damage.addf("neither meta page is readable (%v)", err0)
		img.unreadable = true
		return img
	}
	img.ps = ps
	m1, err1 := readMeta(data, ps)
	m := m0
	// With one meta page damaged, the tree of the other may be one commit
	// older than the last: readable, but not all the file holds. So the
	// file counts as unreadable, and salvage scans it.
	img.unreadable = err0 != nil || err1 != nil
	switch {
	case err0 != nil:
		img.damage.addf("meta page 0 is damaged: %v", err0)
		m = m1
	case err1 != nil:
		img.damage.addf("meta page 1 is damaged: %v", err1)
	case m1.ps != m0.ps:
		img.damage.addf("the meta pages disagree on the page size")
	case m1.txid > m0.txid:
		m = m1
	}
	img.walkFrom(m)
	return img
}

// walkFileAt walks the bbolt file in data from the meta page of
// transaction txid, as a reader of that transaction sees it, and ignores
// the other meta page, which a writer may be writing while data is read.
// It reports false when neither meta page holds txid (a writer has moved
// on twice since), so that the caller reads the file again. visit is as
// for walkFile; the walk ends early, leaving the image incomplete, once
// stop (when not nil) reports true.
func walkFileAt(data []byte, txid uint64, visit map[string]func(k, v []byte), stop func() bool) (*fileImage, bool) {
	img := &fileImage{data: data, buckets: map[string][]pair{}, visit: visit, stop: stop}
	for _, off := range []int{0, -1} {
		if off < 0 {
			m0, err := readMeta(data, 0)
			if err != nil {
				return nil, false
			}
			off = m0.ps
		}
		if m, err := readMeta(data, off); err == nil && m.txid == txid {
			img.ps = m.ps
			img.walkFrom(m)
			return img, true
		}
	}
	return nil, false
}

// walkFrom walks the tree and the freelist of meta m; img.ps is set.
func (img *fileImage) walkFrom(m meta) {
	data, ps := img.data, img.ps
	pages := uint64(len(data) / ps)
	if pages < 2 {
		img.damage.addf("the file holds %d bytes, less than its two meta pages", len(data))
		img.unreadable = true
		return
	}
	if m.high < 2 || m.high > pages {
		img.damage.addf("the meta page counts %d pages and the file holds %d", m.high, pages)
		img.unreadable = true
		img.high = min(max(m.high, 2), pages)
	} else {
		img.high = m.high
	}
	img.seen = make([]bool, img.high)
	img.seen[0], img.seen[1] = true, true

	img.walkTree(m.root, nil, nil, 0, func(flags uint32, k, v []byte) {
		if flags != bucketLeafFlag {
			img.damage.addf("the root holds %q, which is not a bucket", k)
			return
		}
		var ps []pair
		fn, ok := img.visit[string(k)]
		if !ok {
			fn = img.visit[""]
		}
		if img.walkBucket(k, v, 1, func(flags uint32, k, v []byte) {
			if flags != 0 {
				img.damage.addf("bucket element %q has flags %#x", k, flags)
				return
			}
			if fn != nil {
				fn(k, v)
				return
			}
			ps = append(ps, pair{k, v})
		}) {
			img.buckets[string(k)] = ps
		}
	})
	img.walkFreelist(m.freelist)
	if img.unreadable {
		return // unreached pages say nothing more
	}
	missing, first := 0, uint64(0)
	for id := uint64(2); id < img.high; id++ {
		if !img.seen[id] {
			if missing == 0 {
				first = id
			}
			missing++
		}
	}
	if missing > 0 {
		img.damage.addf("%d pages, the first %d, are neither in use nor free", missing, first)
	}
}

// walkBucket walks the bucket whose header and inline page are v, named
// name, and reports whether its header could be read.
func (img *fileImage) walkBucket(name, v []byte, depth int, emit func(flags uint32, k, v []byte)) bool {
	if len(v) < bucketHeaderSize {
		img.damage.addf("bucket %q has a %d-byte header", name, len(v))
		img.unreadable = true
		return false
	}
	root := binary.LittleEndian.Uint64(v)
	if root != 0 {
		if len(v) != bucketHeaderSize {
			img.damage.addf("bucket %q has a root page and %d bytes of inline page", name, len(v)-bucketHeaderSize)
		}
		img.walkTree(root, nil, nil, depth, emit)
		return true
	}
	inline := v[bucketHeaderSize:]
	if len(inline) < pageHeaderSize || binary.LittleEndian.Uint16(inline[8:]) != leafPageFlag || binary.LittleEndian.Uint32(inline[12:]) != 0 {
		img.damage.addf("bucket %q has a damaged inline page", name)
		img.unreadable = true
		return false
	}
	img.readElements(fmt.Sprintf("the inline page of bucket %q", name), inline, true, nil, nil, len(inline), func(flags uint32, k, v []byte, _ uint64) {
		emit(flags, k, v)
	})
	return true
}

// walkTree walks the branch or leaf page id and everything below it,
// passing every leaf element to emit in key order. Keys must lie in
// [lo, hi) (hi nil: no upper bound).
func (img *fileImage) walkTree(id uint64, lo, hi []byte, depth int, emit func(flags uint32, k, v []byte)) {
	if img.stop != nil && img.stop() {
		return
	}
	buf, flags, ok := img.page(id)
	if !ok {
		img.unreadable = true
		return
	}
	if depth > maxTreeDepth {
		img.damage.addf("page %d lies deeper than %d levels", id, maxTreeDepth)
		img.unreadable = true
		return
	}
	where := fmt.Sprintf("page %d", id)
	switch flags {
	case leafPageFlag:
		img.readElements(where, buf, true, lo, hi, 0, func(flags uint32, k, v []byte, _ uint64) {
			emit(flags, k, v)
		})
	case branchPageFlag:
		type child struct {
			id  uint64
			key []byte
		}
		var children []child
		img.readElements(where, buf, false, lo, hi, 0, func(_ uint32, k, _ []byte, c uint64) {
			children = append(children, child{c, k})
		})
		if len(children) == 0 {
			img.damage.addf("branch page %d has no readable elements", id)
			img.unreadable = true
		}
		for i, c := range children {
			next := hi
			if i+1 < len(children) {
				next = children[i+1].key
			}
			img.walkTree(c.id, c.key, next, depth+1, emit)
		}
	default:
		img.damage.addf("page %d, reached as a branch or leaf, has type %#x", id, flags)
		img.unreadable = true
	}
}

// page returns the bytes of page id and its overflow pages, marking them
// seen, or reports why it cannot.
func (img *fileImage) page(id uint64) ([]byte, uint16, bool) {
	if id < 2 || id >= img.high {
		img.damage.addf("a reference to page %d, outside pages 2 to %d", id, img.high-1)
		return nil, 0, false
	}
	off := int(id) * img.ps
	head := img.data[off : off+pageHeaderSize]
	le := binary.LittleEndian
	overflow := uint64(le.Uint32(head[12:]))
	switch {
	case le.Uint64(head) != id:
		img.damage.addf("page %d calls itself page %d", id, le.Uint64(head))
		return nil, 0, false
	case overflow >= img.high-id:
		img.damage.addf("page %d claims %d overflow pages, beyond the end", id, overflow)
		return nil, 0, false
	}
	for p := id; p <= id+overflow; p++ {
		if img.seen[p] {
			img.damage.addf("page %d is reached twice", p)
			return nil, 0, false
		}
	}
	for p := id; p <= id+overflow; p++ {
		img.seen[p] = true
	}
	return img.data[off : off+int(overflow+1)*img.ps], le.Uint16(head[8:]), true
}

// readElements checks the elements of the leaf or branch page in buf and
// passes each readable one to fn: flags, key, value (leaf) and child page
// (branch). Keys must increase strictly and lie in [lo, hi). want is the
// exact size the elements must fill (an inline page), or 0 for a page,
// whose overflow count must then be the least that holds them.
func (img *fileImage) readElements(where string, buf []byte, leaf bool, lo, hi []byte, want int, fn func(flags uint32, k, v []byte, child uint64)) {
	le := binary.LittleEndian
	count := int(le.Uint16(buf[10:]))
	if pageHeaderSize+count*leafElementSize > len(buf) {
		img.damage.addf("%s counts %d elements, more than it can hold", where, count)
		img.unreadable = true
		return
	}
	next := pageHeaderSize + count*leafElementSize // where the next data must start
	var prev []byte
	for i := range count {
		at := pageHeaderSize + i*leafElementSize
		var flags, pos, ksize, vsize uint32
		var child uint64
		if leaf {
			flags, pos, ksize, vsize = le.Uint32(buf[at:]), le.Uint32(buf[at+4:]), le.Uint32(buf[at+8:]), le.Uint32(buf[at+12:])
		} else {
			pos, ksize, child = le.Uint32(buf[at:]), le.Uint32(buf[at+4:]), le.Uint64(buf[at+8:])
		}
		start := uint64(at) + uint64(pos)
		end := start + uint64(ksize) + uint64(vsize)
		if start != uint64(next) || end > uint64(len(buf)) || ksize == 0 || flags > bucketLeafFlag {
			img.damage.addf("%s: element %d is damaged", where, i)
			img.unreadable = true
			return // the elements after it cannot be placed either
		}
		next = int(end)
		k := buf[start : start+uint64(ksize)]
		v := buf[start+uint64(ksize) : end]
		switch {
		case prev != nil && bytes.Compare(k, prev) <= 0:
			img.damage.addf("%s: key %q is out of order", where, k)
		case lo != nil && bytes.Compare(k, lo) < 0, hi != nil && bytes.Compare(k, hi) >= 0:
			img.damage.addf("%s: key %q lies outside the range its parent gives", where, k)
		}
		prev = k
		fn(flags, k, v, child)
	}
	if want > 0 && next != want {
		img.damage.addf("%s: its elements fill %d of its %d bytes", where, next, want)
	}
	if want == 0 && (next+img.ps-1)/img.ps != len(buf)/img.ps {
		img.damage.addf("%s spans %d pages for %d bytes of elements", where, len(buf)/img.ps, next)
	}
}

// walkFreelist checks the freelist page id and marks the pages it frees.
func (img *fileImage) walkFreelist(id uint64) {
	if id == noFreelist {
		return // bbolt rebuilds it; posagent never writes such a file
	}
	buf, flags, ok := img.page(id)
	if !ok {
		img.unreadable = true
		return
	}
	if flags != freelistPageFlag {
		img.damage.addf("the freelist page %d has type %#x", id, flags)
		img.unreadable = true
		return
	}
	le := binary.LittleEndian
	start, count := pageHeaderSize, uint64(le.Uint16(buf[10:]))
	if count == 0xFFFF {
		count = le.Uint64(buf[pageHeaderSize:])
		start += 8
	}
	if count > uint64(len(buf)-start)/8 {
		img.damage.addf("the freelist page %d counts %d pages, more than it can hold", id, count)
		img.unreadable = true
		return
	}
	for i := range int(count) {
		free := le.Uint64(buf[start+8*i:])
		switch {
		case free < 2 || free >= img.high:
			img.damage.addf("the freelist names page %d, outside pages 2 to %d", free, img.high-1)
		case img.seen[free]:
			img.damage.addf("the freelist names page %d, which is in use or named twice", free)
		default:
			img.seen[free] = true
		}
	}
}
