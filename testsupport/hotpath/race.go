//go:build race

package hotpath

// Race reports whether the race detector is on. It turns the runtime's tiny allocator off, so
// each allocation under 16 bytes without pointers takes 16 bytes: bytes per request are larger
// under -race, while the number of allocations is the same.
const Race = true
