# TEMPORARY shim until thalweg.optim lands (delete me)
import numpy as np
import thalweg.optim as _o
import types
if not hasattr(_o, "SGD"):
    class SGD:
        def __init__(self, params, lr=0.1, momentum=0.0, weight_decay=0.0, nesterov=False):
            self.params = list(params); self.param_groups=[{"params": self.params, "lr": lr, "momentum": momentum}]
            self.buf = [None]*len(self.params)
        def zero_grad(self):
            for p in self.params: p.grad=None
        def step(self):
            g0=self.param_groups[0]; lr=g0["lr"]; mu=g0["momentum"]
            for i,p in enumerate(self.params):
                if p.grad is None: continue
                g=p.grad
                if mu:
                    self.buf[i] = g.copy() if self.buf[i] is None else self.buf[i]*np.float32(mu)+g
                    g=self.buf[i]
                p.data -= np.float32(lr)*g
        def state_dict(self): return {"lr": self.param_groups[0]["lr"], "buf": list(self.buf)}
        def load_state_dict(self, s):
            self.param_groups[0]["lr"]=s["lr"]; self.buf=[None if b is None else np.array(b) for b in s["buf"]]
    class StepLR:
        def __init__(self, opt, step_size, gamma=0.1):
            self.opt=opt; self.k=0; self.s=step_size; self.g=gamma; self.base=opt.param_groups[0]["lr"]
        def step(self):
            self.k+=1; self.opt.param_groups[0]["lr"]=self.base*self.g**(self.k//self.s)
        def state_dict(self): return {"k": self.k}
        def load_state_dict(self, s): self.k=s["k"]
    _o.SGD = SGD
    _o.lr_scheduler = types.SimpleNamespace(StepLR=StepLR)
