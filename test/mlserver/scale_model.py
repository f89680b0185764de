"""The reference node's `scale` model as an MLServer custom runtime (MLServer 1.7.1).

output = input * k + b in float32, each step rounded to float32 as the ONNX graph's Mul and Add
do (scripts/gen-models.ts), so an MLServer version gives exactly the output of the reference
version with the same k and b (scripts/lib/test-models.ts, SCALE_PARAMS: v1 k=1 b=0.1, v2 k=2
b=0.2, v3 k=3 b=0.3). k and b come from the model settings' `parameters.extra`.

One input `input` (FP32, shape [batch, 4]), one output `output` (FP32, same shape), typed
contents or raw_input_contents alike (MLServer decodes both).
"""

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import InferenceError
from mlserver.types import InferenceRequest, InferenceResponse

WIDTH = 4


class ScaleModel(MLModel):
    async def load(self) -> bool:
        extra = (self.settings.parameters.extra if self.settings.parameters else None) or {}
        try:
            self._k = np.float32(extra["k"])
            self._b = np.float32(extra["b"])
        except KeyError as err:
            raise ValueError(f"model {self.name}: parameters.extra needs k and b") from err
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        if len(payload.inputs) != 1 or payload.inputs[0].name != "input":
            names = [i.name for i in payload.inputs]
            raise InferenceError(f"scale takes one input named 'input', got {names}")
        request_input = payload.inputs[0]
        if request_input.datatype != "FP32":
            raise InferenceError(f"input: datatype {request_input.datatype}, expected FP32")
        x = NumpyCodec.decode_input(request_input).astype(np.float32, copy=False)
        if x.ndim != 2 or x.shape[1] != WIDTH:
            raise InferenceError(f"input: shape {list(x.shape)}, expected [batch, {WIDTH}]")
        # float32 array * float32 scalar stays float32 and rounds per step, like ONNX Mul then Add.
        y = x * self._k + self._b
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            id=payload.id,
            outputs=[NumpyCodec.encode_output("output", y)],
        )
