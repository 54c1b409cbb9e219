package agent

// The simulation's disk: a store whose disk fails for a while (the process
// restarts into a store it can read but not write, as on a disk that went
// read-only or full) and a store file damaged while the process was down
// (bits flipped in the newest copies of one payment's record, so that the
// next start salvages the file and may bring back an older copy of it).

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"slices"
	"time"

	"github.com/posagent/posagent/queue"
)

// simRecord is one intact copy of a payment record found in the store
// file's bytes: its JSON is data[at:at+n].
type simRecord struct {
	at, n int
	req   string
	rev   int64
	final bool
}

// simRecords finds every intact copy of a payment record in the store
// file's bytes, wherever bbolt left it (the committed leaf, or a page freed
// by a later commit). A record is framed as queue/layout.go has it: format
// byte 0x02, the JSON's length and its CRC-32C (big-endian), the JSON.
func simRecords(data []byte) []simRecord {
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	var out []simRecord
	start := []byte(`{"req":"`)
	for i := 0; ; {
		j := bytes.Index(data[i:], start)
		if j < 0 {
			return out
		}
		at := i + j
		i = at + 1
		if at < 9 || data[at-9] != 0x02 {
			continue
		}
		n := int(binary.BigEndian.Uint32(data[at-8:]))
		if n > len(data)-at || crc32.Update(crc32.Checksum(data[at-9:at-4], castagnoli), castagnoli, data[at:at+n]) != binary.BigEndian.Uint32(data[at-4:]) {
			continue
		}
		var r struct {
			Req   string `json:"req"`
			Rev   int64  `json:"rev"`
			State string `json:"state"`
		}
		if json.Unmarshal(data[at:at+n], &r) != nil {
			continue
		}
		out = append(out, simRecord{at: at, n: n, req: r.Req, rev: r.Rev, final: queue.State(r.State).Final()})
	}
}

// damage flips one bit in every copy of the newest revision of one
// payment's record in the store file, which no process has open. Most
// often it picks a payment that is final and of which an older copy, not
// yet final, is still in the file: the salvage at the next start then
// brings that older copy back. It returns the payment damaged, "" when the
// file holds no record.
func (h *simHistory) damage() string {
	data, err := os.ReadFile(h.path)
	if err != nil {
		h.trace.add("DAMAGE: cannot read the store file: %v", err)
		return ""
	}
	recs := simRecords(data)
	newest := map[string]int64{}
	for _, r := range recs {
		newest[r.req] = max(newest[r.req], r.rev)
	}
	finalNow, openBefore := map[string]bool{}, map[string]bool{}
	for _, r := range recs {
		if r.rev == newest[r.req] && r.final {
			finalNow[r.req] = true
		}
		if r.rev < newest[r.req] && !r.final {
			openBefore[r.req] = true
		}
	}
	var all, back []string
	for req := range newest {
		all = append(all, req)
		if finalNow[req] && openBefore[req] {
			back = append(back, req)
		}
	}
	if len(all) == 0 {
		return ""
	}
	slices.Sort(all)
	slices.Sort(back)
	target := all[h.rng.IntN(len(all))]
	if len(back) > 0 && h.rng.IntN(3) > 0 {
		target = back[h.rng.IntN(len(back))]
	}
	copies := 0
	for _, r := range recs {
		if r.req == target && r.rev == newest[target] {
			data[r.at+1+h.rng.IntN(r.n-2)] ^= 1 << h.rng.IntN(8)
			copies++
		}
	}
	if err := os.WriteFile(h.path, data, 0o600); err != nil {
		h.trace.add("DAMAGE: cannot write the store file: %v", err)
		return ""
	}
	h.trace.add("DAMAGE: a bit flipped in each of the %d copies of revision %d of %s's record (older copies in the file: %v)",
		copies, newest[target], target, openBefore[target])
	return target
}

// planDisk schedules the history's disk failure: at failFrom the process
// dies and comes back on a store it cannot write; at failTo it dies again
// and comes back on a sound one. Crashes in between also come back on the
// failing store.
func (h *simHistory) planDisk() {
	if h.failFrom < 0 {
		return
	}
	h.at(h.failFrom, "disk: fails", func() {
		h.trace.add("disk: fails until %.3fs; every commit fails", h.failTo.Seconds())
		h.crash(time.Duration(h.rng.Int64N(int64(10 * time.Second))))
	})
	h.at(h.failTo, "disk: replaced", func() {
		h.trace.add("disk: works again")
		h.crash(time.Duration(h.rng.Int64N(int64(10 * time.Second))))
	})
}

// failing reports whether the disk fails now.
func (h *simHistory) failing() bool {
	now := h.clock.Mono()
	return h.failFrom >= 0 && now >= h.failFrom && now < h.failTo
}
