package devicetest

import "io"

// Echo answers on conn, at once, with answer for every size bytes read,
// the peer of a round trip with no link layer: the baseline of a
// benchmark of one with it. It returns when a read or a write fails, such
// as once conn is closed.
func Echo(conn io.ReadWriter, size int, answer []byte) {
	buf := make([]byte, 4096)
	got := 0
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		for got += n; got >= size; got -= size {
			if _, err := conn.Write(answer); err != nil {
				return
			}
		}
	}
}
