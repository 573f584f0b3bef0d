package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/zeroflow-dev/zeroflow/functions/exec"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

// envEventPath is the directory a Knative JobSink mounts the event in (the
// file is "event" there).
const envEventPath = "K_EVENT_PATH"

// newExecJobFunctionCommand is what the pod of a JobSink's Job runs: one
// container or script step, from the event file, with its result sent to
// the broker. It serves nothing.
func newExecJobFunctionCommand() *cobra.Command {
	var eventFile, sink, secretsDir string
	var sendFor time.Duration
	cmd := &cobra.Command{
		Use:   "exec-job",
		Short: "Run one container or script step from a JobSink's event file and send its result (a Job's pod)",
		Long: `exec-job runs the step.run a Knative JobSink mounted into its Job's pod
(--event, default $K_EVENT_PATH/event), with the exec function, sending
heartbeats while the step runs and the step.result when it ends to the broker
($K_SINK, which the JobSink's SinkBinding sets). A failed step is a result and
exits 0; a missing or foreign event, or a result that could not be sent
within --send-for, exits 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if eventFile == "" {
				if dir := os.Getenv(envEventPath); dir != "" {
					eventFile = filepath.Join(dir, "event")
				}
			}
			store, err := sdk.ArtifactsFromEnv()
			if err != nil {
				return err
			}
			if store == nil {
				return fmt.Errorf("no artifact store: set $%s to a directory or an s3:// URL", sdk.EnvArtifacts)
			}
			sender, err := sdk.NewSenderFromEnv(sink)
			if err != nil {
				return err
			}
			ctx, stop, logger := functionContext(cmd)
			defer stop()
			return exec.RunJob(ctx, exec.JobOptions{
				Exec:      exec.Options{Artifacts: store, Secrets: secrets.Local{Dir: secretsDir}},
				EventFile: eventFile,
				Sender:    sender,
				Logger:    logger,
				SendFor:   sendFor,
			})
		},
	}
	cmd.Flags().StringVar(&eventFile, "event", "", "the step.run event file, JSON (default $"+envEventPath+"/event)")
	cmd.Flags().StringVar(&sink, "sink", "", "broker address the result is sent to (default $K_SINK)")
	cmd.Flags().StringVar(&secretsDir, "secrets-dir", os.Getenv("ZEROFLOW_SECRETS_DIR"), "directory of secret files <name>/<key> (also read: $ZEROFLOW_SECRET_<NAME>_<KEY>)")
	cmd.Flags().DurationVar(&sendFor, "send-for", exec.DefaultJobSendFor, "how long to keep retrying the result's send while the broker is unreachable")
	return cmd
}
