package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/zeroflow-dev/zeroflow/internal/devstack"
	"github.com/zeroflow-dev/zeroflow/internal/manifestfile"
	"github.com/zeroflow-dev/zeroflow/render"
)

func newRenderCommand() *cobra.Command {
	var (
		namespace, broker string
		opts              render.Options
		runtime           bool
	)
	cmd := &cobra.Command{
		Use:   "render [DIR]",
		Short: "Print the Knative objects a directory of zeroflow objects needs on a cluster",
		Long: `render reads the EventSources, Sensors, WorkflowTemplates and Workflows of
DIR (default: the current directory), checks them as lint does, and prints the
Knative objects they need as one YAML stream, sorted so that a change shows
as a readable diff:

  - per EventSource: a Knative Service serving its webhooks, a ConfigMap with
    its spec, and a SinkBinding giving the Service the broker as K_SINK;
  - per Sensor: its filter and sensor Services, a ConfigMap, SinkBindings,
    and a Trigger per dependency plus one for the sensor;
  - per user function a template calls: the Trigger that routes its step.run
    events to the Knative Service of that name (which you deploy);
  - the EventPolicies that say who may send what to the Broker (they need
    Knative Eventing's authentication-oidc feature: docs/security.md).

Audiences and ServiceAccount subjects name the namespace given with -n, or
zeroflow (where manifests/ installs) when none is.

Images are ko:// references; resolve them with ko:

  zeroflow render DIR | ko resolve -f - | kubectl apply -f -

Apply DIR's own objects too (kubectl apply -f DIR). zeroflow dev runs the same
objects locally.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			objs, _, err := devstack.Load(dir)
			if err != nil {
				return err
			}
			values := manifestfile.Values(objs)
			out, err := render.Render(render.InputOf(values, namespace), namespace, broker, opts)
			if err != nil {
				return err
			}
			if runtime {
				out.Add(render.Runtime(namespace, broker, opts))
			}
			b, err := out.YAML()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "# zeroflow render %s: generated, do not edit.\n%s", dir, b)
			return err
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace of the objects that name none, and of the step Triggers (where the controller sends step.run); default none, so that kubectl -n or kustomize's namespace sets it")
	cmd.Flags().StringVar(&broker, "broker", "default", "the Broker the step Triggers subscribe to")
	cmd.Flags().StringVar(&opts.Image, "image", render.DefaultImage, "the image of zeroflow's functions")
	cmd.Flags().StringVar(&opts.Issuer, "oidc-issuer", render.DefaultIssuer, "the cluster's ServiceAccount token issuer, whose tokens functions accept (kubectl get --raw /.well-known/openid-configuration)")
	cmd.Flags().BoolVar(&runtime, "runtime", false, "also print the workflow runtime's objects for the namespace (built-in functions and the controller's Triggers), which manifests/ installs")
	return cmd
}
