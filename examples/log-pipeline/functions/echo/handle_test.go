package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandle(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(Handle))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/report", "application/json", strings.NewReader(`{"ok":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != `{"ok":true}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%d %q %q", resp.StatusCode, b, resp.Header.Get("Content-Type"))
	}
}
