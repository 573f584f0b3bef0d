package sdk

import "os"

func envSink() string { return os.Getenv("K_SINK") }
