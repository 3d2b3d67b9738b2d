package kubernetes

import (
	"fmt"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Object is one rendered manifest.
type Object struct {
	Kind string
	Name string
	YAML []byte
}

// String names the object as kubectl does: Kind/name.
func (o Object) String() string { return o.Kind + "/" + o.Name }

// Render builds the kustomization in dir as `kubectl apply -k dir` would
// (kustomize's defaults: no files outside the kustomization's root, no
// plugins) and returns its manifests in kustomize's order.
func Render(dir string) ([]Object, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", dir, err)
	}
	var out []Object
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("rendering %s: %s/%s: %w", dir, r.GetKind(), r.GetName(), err)
		}
		out = append(out, Object{Kind: r.GetKind(), Name: r.GetName(), YAML: y})
	}
	return out, nil
}
