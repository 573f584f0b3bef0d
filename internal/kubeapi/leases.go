package kubeapi

// leaseCRD serves coordination.k8s.io/v1 Leases, which a cluster's
// kube-apiserver has built in and this server (apiextensions-apiserver
// alone) lacks: the controllers' leader election (client-go's LeaseLock)
// needs them. The schema is the built-in Lease's, so a client that works
// here works on a cluster. coordination.k8s.io is a protected group: a CRD
// in it needs the api-approved annotation, here the "unapproved" bypass,
// since it only stands in for the built-in kind.
var leaseCRD = []byte(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: leases.coordination.k8s.io
  annotations:
    api-approved.kubernetes.io: "unapproved, the built-in Lease of kube-apiserver, served by zeroflow's in-process API server"
spec:
  group: coordination.k8s.io
  scope: Namespaced
  names:
    kind: Lease
    listKind: LeaseList
    plural: leases
    singular: lease
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          spec:
            type: object
            properties:
              holderIdentity: {type: string}
              leaseDurationSeconds: {type: integer, format: int32}
              acquireTime: {type: string, format: date-time}
              renewTime: {type: string, format: date-time}
              leaseTransitions: {type: integer, format: int32}
              strategy: {type: string}
              preferredHolder: {type: string}
`)
