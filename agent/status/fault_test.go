package status

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestStatusShowsAStoreFaultWhileItLasts(t *testing.T) {
	for _, fault := range StoreFaults() {
		t.Run(fault, func(t *testing.T) {
			f := newFixture(t)
			free := uint64(3 << 10)
			problem := "the store " + fault + ": do this"
			f.snap.Store.Fault, f.snap.Store.Problem, f.snap.Store.FreeBytes = fault, problem, &free
			if code, _, body := get(t, f.server(), "/healthz"); code != 503 || !strings.Contains(body, problem) {
				t.Errorf("/healthz = %d %q; want 503 with the problem", code, body)
			}
			_, _, body := get(t, f.server(), "/")
			for _, want := range []string{`<span class="badge bad">NO NEW PAYMENTS</span>`, problem, "Free space</dt><dd>3 KiB"} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			_, _, body = get(t, f.server(), "/api/status")
			var st statusJSON
			if err := json.Unmarshal([]byte(body), &st); err != nil {
				t.Fatal(err)
			}
			if st.Store.Fault != fault || st.Store.Problem != problem || st.Store.FreeBytes == nil || *st.Store.FreeBytes != free || st.Healthy {
				t.Errorf("/api/status store = %+v, healthy %v; want the fault, the problem and the free space", st.Store, st.Healthy)
			}
			_, _, body = get(t, f.server(), "/metrics")
			for _, other := range StoreFaults() {
				want := fmt.Sprintf("posagent_store_fault{fault=%q} 0", other)
				if other == fault {
					want = fmt.Sprintf("posagent_store_fault{fault=%q} 1", other)
				}
				if !strings.Contains(body, want+"\n") {
					t.Errorf("metrics lack %s", want)
				}
			}
			if !strings.Contains(body, "posagent_store_free_bytes 3072\n") {
				t.Error("metrics lack the free space")
			}

			// Once it ends, nothing of it shows.
			f.snap.Store.Fault, f.snap.Store.Problem = "", ""
			if code, _, _ := get(t, f.server(), "/healthz"); code != 200 {
				t.Errorf("/healthz after the fault = %d, want 200", code)
			}
			if _, _, body := get(t, f.server(), "/"); strings.Contains(body, "NO NEW PAYMENTS") {
				t.Error("the page still shows the fault")
			}
		})
	}
}
