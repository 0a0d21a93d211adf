// gcbench.go — the Go port of bench/workloads/gcbench.c, for bench/gcbench.py's row of Go's
// runtime (issue 14): the same trees (stretch depth 18, long-lived depth 16, temporaries at
// depths 4..16 built top down and bottom up), the same 500000-double array (a []float64: Go
// knows it holds no pointers, as Boehm's GC_MALLOC_ATOMIC does), the same check at the end,
// the same output lines plus "collections N" (runtime.MemStats.NumGC). GOGC as the runtime
// reads it (default 100).
//   go build -o gcbench-go bench/workloads/gcbench.go
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

const (
	kStretchTreeDepth   = 18
	kLongLivedTreeDepth = 16
	kArraySize          = 500000
	kMinTreeDepth       = 4
	kMaxTreeDepth       = 16
)

type node struct {
	left, right *node
	i, j        int32
}

func treeSize(i int) int { return (1 << (i + 1)) - 1 }

func numIters(i int) int { return 2 * treeSize(kStretchTreeDepth) / treeSize(i) }

func populate(depth int, n *node) {
	if depth <= 0 {
		return
	}
	depth--
	n.left = &node{}
	n.right = &node{}
	populate(depth, n.left)
	populate(depth, n.right)
}

func makeTree(depth int) *node {
	if depth <= 0 {
		return &node{}
	}
	return &node{left: makeTree(depth - 1), right: makeTree(depth - 1)}
}

// tagTree tags every node (tag != 0) or checks the tags (tag == 0), as gcbench.c's tag_tree.
func tagTree(n *node, tag int32) int {
	if n == nil {
		return 0
	}
	if tag != 0 {
		n.i, n.j = tag, tag
	} else if n.i != 0x5eed || n.j != 0x5eed {
		return -(1 << 30)
	}
	return 1 + tagTree(n.left, tag) + tagTree(n.right, tag)
}

var sink *node // the temporaries escape to the heap, as the C program's mallocs

func timeConstruction(depth int) {
	n := numIters(depth)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		temp := &node{}
		populate(depth, temp)
		sink = temp
	}
	t1 := time.Now()
	for i := 0; i < n; i++ {
		sink = makeTree(depth)
	}
	t2 := time.Now()
	fmt.Printf("depth %2d: %5d trees, top down %.0f ms, bottom up %.0f ms\n", depth, n,
		float64(t1.Sub(t0).Microseconds())/1e3, float64(t2.Sub(t1).Microseconds())/1e3)
}

func main() {
	t0 := time.Now()
	sink = makeTree(kStretchTreeDepth) // stretch the heap
	sink = nil
	longLived := &node{}
	populate(kLongLivedTreeDepth, longLived)
	tagTree(longLived, 0x5eed)
	array := make([]float64, kArraySize)
	for i := 0; i < kArraySize/2; i++ {
		array[i] = 1.0 / float64(i)
	}
	for d := kMinTreeDepth; d <= kMaxTreeDepth; d += 2 {
		timeConstruction(d)
	}
	if array[1000] != 1.0/1000 || tagTree(longLived, 0) != treeSize(kLongLivedTreeDepth) {
		fmt.Fprintln(os.Stderr, "gcbench: failed: the long-lived tree or array changed")
		os.Exit(1)
	}
	fmt.Printf("total %.0f ms\n", float64(time.Since(t0).Microseconds())/1e3)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("collections %d\n", ms.NumGC)
	runtime.KeepAlive(longLived)
	runtime.KeepAlive(array)
}
