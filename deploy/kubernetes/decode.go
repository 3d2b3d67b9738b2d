package kubernetes

import (
	"bytes"
	"encoding/json"
	"fmt"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// Manifests are rendered objects decoded into their API types.
type Manifests struct {
	Deployments     []appsv1.Deployment
	StatefulSets    []appsv1.StatefulSet
	Services        []corev1.Service
	ConfigMaps      []corev1.ConfigMap
	ServiceAccounts []corev1.ServiceAccount
	Namespaces      []corev1.Namespace
	PDBs            []policyv1.PodDisruptionBudget
	ServiceMonitors []monitoringv1.ServiceMonitor
	PrometheusRules []monitoringv1.PrometheusRule
	HPAs            []autoscalingv2.HorizontalPodAutoscaler
	ScaledObjects   []ScaledObject
}

// Decode decodes every object strictly into its API type: an unknown or
// misspelt field, a duplicate key or a value of the wrong type is an error,
// as it is for the API server with strict field validation. A kind with no
// type here is an error too, so nothing goes unchecked.
func Decode(objs []Object) (*Manifests, error) {
	m := &Manifests{}
	for _, o := range objs {
		var err error
		switch o.Kind {
		case "Deployment":
			err = into(o, &m.Deployments)
		case "StatefulSet":
			err = into(o, &m.StatefulSets)
		case "Service":
			err = into(o, &m.Services)
		case "ConfigMap":
			err = into(o, &m.ConfigMaps)
		case "ServiceAccount":
			err = into(o, &m.ServiceAccounts)
		case "Namespace":
			err = into(o, &m.Namespaces)
		case "PodDisruptionBudget":
			err = into(o, &m.PDBs)
		case "ServiceMonitor":
			err = into(o, &m.ServiceMonitors)
		case "PrometheusRule":
			err = into(o, &m.PrometheusRules)
		case "HorizontalPodAutoscaler":
			err = into(o, &m.HPAs)
		case "ScaledObject":
			err = into(o, &m.ScaledObjects)
		default:
			err = fmt.Errorf("no API type to check kind %s against", o.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("decoding %s: %w", o, err)
		}
	}
	return m, nil
}

// into decodes o strictly and appends it to list. The YAML becomes JSON
// without looking at the target type, as kubectl sends it: a number where
// the type wants a string stays a number and fails, as on the API server
// (sigs.k8s.io/yaml's Unmarshal would quietly quote it).
func into[T any](o Object, list *[]T) error {
	j, err := yaml.YAMLToJSONStrict(o.YAML)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	var v T
	if err := dec.Decode(&v); err != nil {
		return err
	}
	*list = append(*list, v)
	return nil
}
