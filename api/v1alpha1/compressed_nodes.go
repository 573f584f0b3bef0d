package v1alpha1

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The bounds of node compression (docs/workflows.md, "Large runs").
const (
	// DefaultCompressNodesAbove is the size of status.nodes (JSON) above
	// which a stored Workflow carries them compressed. Below it a status
	// stays readable with kubectl as it is; above it, a wide fan-out's
	// node records (mostly repeated names and reference digests) shrink
	// several times, so that 10,000 nodes with offloaded outputs fit
	// below the controller's 1 MiB bound for a stored Workflow.
	DefaultCompressNodesAbove = 256 << 10
	// MaxExpandedNodesBytes bounds what status.compressedNodes may expand
	// to: a forged status cannot make a reader inflate a gzip bomb.
	MaxExpandedNodesBytes = 64 << 20
)

// ErrNodesTooLarge is the error of compressed nodes that expand beyond
// MaxExpandedNodesBytes.
var ErrNodesTooLarge = errors.New("status.compressedNodes expands beyond the bound")

// CompressNodes moves st.Nodes into st.CompressedNodes when their JSON is
// larger than above bytes; otherwise it leaves st as it is. It changes st:
// callers pass a copy they own.
func (st *WorkflowStatus) CompressNodes(above int) error {
	if len(st.Nodes) == 0 {
		return nil
	}
	raw, err := json.Marshal(st.Nodes)
	if err != nil {
		return fmt.Errorf("status.nodes: encode: %w", err)
	}
	if len(raw) <= above {
		return nil
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return fmt.Errorf("status.nodes: compress: %w", err)
	}
	if _, err := zw.Write(raw); err != nil {
		return fmt.Errorf("status.nodes: compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("status.nodes: compress: %w", err)
	}
	st.CompressedNodes = base64.StdEncoding.EncodeToString(buf.Bytes())
	st.Nodes = nil
	return nil
}

// ExpandNodes moves st.CompressedNodes back into st.Nodes. A status with
// both is refused: only one of them is ever written.
func (st *WorkflowStatus) ExpandNodes() error {
	if st.CompressedNodes == "" {
		return nil
	}
	if len(st.Nodes) > 0 {
		return errors.New("status has both nodes and compressedNodes")
	}
	zipped, err := base64.StdEncoding.DecodeString(st.CompressedNodes)
	if err != nil {
		return fmt.Errorf("status.compressedNodes: not base64: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		return fmt.Errorf("status.compressedNodes: not gzip: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, MaxExpandedNodesBytes+1))
	if err != nil {
		return fmt.Errorf("status.compressedNodes: decompress: %w", err)
	}
	if len(raw) > MaxExpandedNodesBytes {
		return fmt.Errorf("%w of %d bytes", ErrNodesTooLarge, MaxExpandedNodesBytes)
	}
	nodes := map[string]NodeStatus{}
	if err := json.Unmarshal(raw, &nodes); err != nil {
		return fmt.Errorf("status.compressedNodes: decode: %w", err)
	}
	st.Nodes, st.CompressedNodes = nodes, ""
	return nil
}
