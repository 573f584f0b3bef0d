package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	zfbroker "github.com/zeroflow-dev/zeroflow/broker"

	"github.com/zeroflow-dev/zeroflow/internal/devstack"
	"github.com/zeroflow-dev/zeroflow/internal/manifestfile"
	"github.com/zeroflow-dev/zeroflow/render"
)

func newRenderCommand() *cobra.Command {
	var (
		namespace, broker, brokerClass string
		opts                           render.Options
		runtime, rbac                  bool
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
    Knative Eventing's authentication-oidc feature: docs/security.md);
  - each Broker an eventBusName (or a CronWorkflow's namespace) names that
    DIR does not declare, with zeroflow's delivery (retries, then the
    dead-letter function of the runtime's namespace), and the controller's
    Triggers on it;
  - with --rbac, the Roles and RoleBindings each Sensor's triggers and each
    workflow's resource steps need, from what they create, update, patch
    and delete, bound to the ServiceAccount that acts (and the
    ServiceAccount a Sensor names).

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
			in := render.InputOf(values, namespace)
			out, err := render.Render(in, namespace, broker, opts)
			if err != nil {
				return err
			}
			declared, err := zfbroker.LoadConfig(dir)
			if err != nil {
				return fmt.Errorf("read DIR's Brokers: %w", err)
			}
			var config *duckv1.KReference
			if brokerClass == render.ClassKafka {
				// The Kafka broker's configuration, as manifests/broker/kafka
				// installs it in the runtime's namespace.
				ns := namespace
				if ns == "" {
					ns = render.DefaultNamespace
				}
				config = &duckv1.KReference{APIVersion: "v1", Kind: "ConfigMap", Name: "kafka-broker-config", Namespace: ns}
			}
			out.Brokers = append(out.Brokers, render.EventBusBrokers(in, namespace, broker, brokerClass, config, declared.Brokers)...)
			if rbac {
				roles, err := render.RBAC(in, namespace)
				if err != nil {
					return err
				}
				out.Add(roles)
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
	cmd.Flags().StringVar(&brokerClass, "broker-class", render.ClassKafka, "the class of the Brokers render makes for eventBusNames DIR does not declare (Kafka, or MTChannelBasedBroker for a dev cluster)")
	cmd.Flags().BoolVar(&rbac, "rbac", false, "also print the Roles and RoleBindings the Sensors' triggers and the workflows' resource steps need (least privilege, from what they create, update, patch and delete)")
	cmd.Flags().BoolVar(&opts.ExecJobs, "exec-jobs", false, "with --runtime: run container and script steps as Kubernetes Jobs through a Knative JobSink (steps of any length; each pays a pod start) instead of on the exec Service, whose requests Knative cuts at 300 s")
	cmd.Flags().BoolVar(&runtime, "runtime", false, "also print the workflow runtime's objects for the namespace (built-in functions and the controller's Triggers), which manifests/ installs")
	return cmd
}
