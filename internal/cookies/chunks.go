package cookies

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Chunking (contract §6.1). Real access and ID tokens are 2–8 KB; encrypted, their cookie exceeds
// the 4096 bytes a browser keeps for one cookie, and the browser drops it without a word. A value
// that does not fit is written as
//
//	<name>=chunks-<n>         the count, in the cookie the value would have had
//	<name>-1=<part 1> ... <name>-<n>=<part n>
//
// where the parts are the encrypted value cut in order. A count is never a valid encrypted value
// (those start with "A", the base64 of the version byte), so a reader that finds one in <name>
// knows to reassemble, and a stale chunk beyond the count is never read. A value that fits is
// written exactly as before, so Curity's cookies and test vectors stay byte-identical.
const (
	// MaxSetCookieBytes bounds each Set-Cookie header value the agent writes: name, value and
	// attributes (RFC 6265 §6.1 asks browsers to keep at least 4096 bytes per cookie).
	MaxSetCookieBytes = 4096
	// DefaultMaxChunks is the default of maxCookieChunks.
	DefaultMaxChunks = 4
	// MaxReadChunks is the most chunks a reader reassembles, whatever the writer is set to, and
	// the upper bound of maxCookieChunks.
	MaxReadChunks = 10
	chunkMarker   = "chunks-"
	// minChunkRoom is the least room for a value in a chunk that is worth chunking into.
	minChunkRoom = 1024
)

// ErrTooLarge is returned by Write for a value that needs more than maxCookieChunks chunks.
var ErrTooLarge = errors.New("the value does not fit in maxCookieChunks cookies of 4096 bytes")

func isChunked(value string) bool { return strings.HasPrefix(value, chunkMarker) }

func chunkName(name string, i int) string { return name + "-" + strconv.Itoa(i) }

// joinChunks reassembles the value that the count cookie marker announces, from the first cookie
// of each chunk name that sent carries. The count is bounded by MaxReadChunks, so a forged count
// costs nothing.
func joinChunks(sent []*http.Cookie, name, marker string) (string, error) {
	n, err := strconv.Atoi(marker[len(chunkMarker):])
	if err != nil || n < 2 || n > MaxReadChunks {
		return "", fmt.Errorf("its chunk count is not a number from 2 to %d", MaxReadChunks)
	}
	parts := make([]string, n)
	seen := make([]bool, n)
	found := 0
	prefix := name + "-"
	for _, s := range sent {
		if !strings.HasPrefix(s.Name, prefix) {
			continue
		}
		i, err := strconv.Atoi(s.Name[len(prefix):])
		if err != nil || i < 1 || i > n || seen[i-1] {
			continue
		}
		seen[i-1] = true
		parts[i-1] = s.Value
		found++
	}
	if found != n {
		return "", fmt.Errorf("%d of its %d chunks are missing", n-found, n)
	}
	return strings.Join(parts, ""), nil
}

// writeSealed adds the Set-Cookie headers for an encrypted value: one cookie, or a count and
// chunks. It checks the size before adding anything, so that a value that is too large leaves h
// as it was.
func (j *Jar) writeSealed(h http.Header, r *http.Request, c Cookie, sealed string) error {
	if len(c.Name)+1+len(sealed)+len(c.attributes) <= MaxSetCookieBytes {
		h.Add("Set-Cookie", c.Name+"="+sealed+c.attributes)
		j.clearStale(h, r, c, 0)
		return nil
	}
	// Every chunk gets the same room: the longest chunk name is <name>-10.
	room := MaxSetCookieBytes - len(c.Name) - len("-10=") - len(c.attributes)
	if room < minChunkRoom {
		return fmt.Errorf("%w: the %s cookie's name and attributes leave no room for chunks: shorten cookieBasePath, pathPrefix or cookieDomain", ErrTooLarge, c.Name)
	}
	n := (len(sealed) + room - 1) / room
	if n > j.maxChunks {
		return fmt.Errorf("%w: the %s cookie would need %d bytes in %d chunks, and maxCookieChunks is %d: raise maxCookieChunks (at most %d), or ask the authorization server for smaller tokens",
			ErrTooLarge, c.Name, len(sealed), n, j.maxChunks, MaxReadChunks)
	}
	h.Add("Set-Cookie", c.Name+"="+chunkMarker+strconv.Itoa(n)+c.attributes)
	for i := 1; i <= n; i++ {
		end := i * room
		if end > len(sealed) {
			end = len(sealed)
		}
		h.Add("Set-Cookie", chunkName(c.Name, i)+"="+sealed[(i-1)*room:end]+c.attributes)
	}
	j.clearStale(h, r, c, n)
	return nil
}

// clearStale clears what a write leaves stale: the cookie on its legacy Path, and the chunks
// above n that r carries (r is nil for a cookie that is never chunked).
func (j *Jar) clearStale(h http.Header, r *http.Request, c Cookie, n int) {
	if c.legacy != "" {
		h.Add("Set-Cookie", c.Name+"="+c.legacy+expired)
	}
	if r != nil {
		j.clearChunks(h, r, c, n)
	}
}

// clearChunks clears the chunks of c above n: those r carries or, without a request, every one
// this configuration may have written.
func (j *Jar) clearChunks(h http.Header, r *http.Request, c Cookie, n int) {
	for i := n + 1; i <= j.maxChunks; i++ {
		name := chunkName(c.Name, i)
		if r != nil {
			if _, err := r.Cookie(name); err != nil {
				continue
			}
		}
		Clear(h, Cookie{Name: name, attributes: c.attributes}) // chunks never had a legacy Path
	}
}
