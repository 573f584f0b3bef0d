package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/devstack"
)

// devDataDir is where `zeroflow dev` keeps its state by default; the
// workflow commands find the dev stack's kubeconfig and artifacts there.
const devDataDir = ".zeroflow"

// conn is how a workflow command reaches the API, in kubectl's order:
// --kubeconfig, else $KUBECONFIG, else the dev stack's
// ./.zeroflow/kubeconfig when there is one, else ~/.kube/config.
type conn struct {
	kubeconfig string
	namespace  string
	output     string
	artifacts  string
}

func (c *conn) addFlags(cmd *cobra.Command, withOutput bool) {
	cmd.Flags().StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig to use (default: $KUBECONFIG, else the zeroflow dev stack's .zeroflow/kubeconfig if present, else ~/.kube/config)")
	cmd.Flags().StringVarP(&c.namespace, "namespace", "n", "default", "namespace of the workflows")
	if withOutput {
		cmd.Flags().StringVarP(&c.output, "output", "o", "", "output format: json, yaml or wide")
	}
}

func (c *conn) client() (*controller.Client, error) {
	path := kubeconfigPath(c.kubeconfig, os.Getenv(clientcmd.RecommendedConfigPathEnvVar))
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no Kubernetes API to talk to (start one with `zeroflow dev`, or pass --kubeconfig): %w", err)
	}
	return controller.NewClient(cfg)
}

// kubeconfigPath is the kubeconfig to load explicitly: the flag, else none
// when $KUBECONFIG is set (the loading rules read it, as kubectl does: a
// user who set it means that cluster), else the dev stack's when present,
// else none (~/.kube/config).
func kubeconfigPath(flag, env string) string {
	if flag != "" || env != "" {
		return flag
	}
	dev := filepath.Join(devDataDir, "kubeconfig")
	if _, err := os.Stat(dev); err == nil {
		return dev
	}
	return ""
}

// artifacts opens the artifact store: --artifacts, else
// $ZEROFLOW_ARTIFACTS, else the one the dev stack in .zeroflow records,
// else .zeroflow/artifacts.
func (c *conn) artifactStore() (sdk.Artifacts, error) {
	location := c.artifacts
	if location == "" {
		location = os.Getenv(sdk.EnvArtifacts)
	}
	if location == "" {
		if b, err := os.ReadFile(filepath.Join(devDataDir, devstack.ArtifactsLocationFile)); err == nil {
			location = strings.TrimSpace(string(b))
		}
	}
	if location == "" {
		location = filepath.Join(devDataDir, "artifacts")
	}
	return sdk.OpenArtifacts(location)
}

// printObject prints v as JSON or YAML; it reports false for other formats.
func printObject(w io.Writer, format string, v any) (bool, error) {
	switch format {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return true, err
		}
		_, err = fmt.Fprintln(w, string(b))
		return true, err
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return true, err
		}
		_, err = w.Write(b)
		return true, err
	case "", "wide":
		return false, nil
	default:
		return true, fmt.Errorf("unknown output format %q: use json, yaml or wide", format)
	}
}
