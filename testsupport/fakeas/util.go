package fakeas

import (
	"net"
	"os"
)

// ClosedURL returns an http URL on a loopback port where nothing listens.
func ClosedURL() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "http://127.0.0.1:1"
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func writeFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o600)
}
