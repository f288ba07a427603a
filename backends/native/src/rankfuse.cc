// Module init of the rankfuse native engine: defines every area's JS functions (napi_<area>.cc) on
// the exports. The TypeScript side is backends/native/build.ts (interface NativeAddon).
#include <node_api.h>

#include "napi_bindings.h"

NAPI_MODULE_INIT() {
  using namespace rankfuse;
  const bool defined = defineGemm(env, exports) && defineElementwise(env, exports) && defineLayout(env, exports) &&
                       defineReduce(env, exports) && defineRows(env, exports) && defineIndexing(env, exports) &&
                       defineLowrank(env, exports) && defineAttention(env, exports) &&
                       defineCodegen(env, exports);
  return defined ? exports : nullptr;
}
