//go:build !race

package hotpath

// Race reports whether the race detector is on (see race.go).
const Race = false
