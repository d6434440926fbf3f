package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestBlockIsFreeAndBelow32768(t *testing.T) {
	first, err := Block("127.0.0.1", 8)
	if err != nil {
		t.Fatal(err)
	}
	if first < 1024 || first+8 > 32768 {
		t.Fatalf("block %d…%d outside 1024…32767", first, first+7)
	}
	for p := first; p < first+8; p++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d of the block is not free: %v", p, err)
		}
		l.Close()
	}
	// A block with a port taken is not free.
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(first))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if free("127.0.0.1", first, 8) {
		t.Errorf("block %d counted free with its first port taken", first)
	}
	// Skipped blocks are not offered.
	if got, err := BlockFunc("127.0.0.1", 8, func(f int) bool { return true }); err == nil {
		t.Errorf("every block skipped, yet %d was offered", got)
	}
	if _, err := Block("127.0.0.1", 0); err == nil {
		t.Error("a block of no ports was found")
	}
}
