// SSE/SSE2/SSE3/SSSE3/SSE4, MMX and x87 semantics (registered at import time).
import './sse-int.js';
import './sse-fp.js';
import './x87.js';
import './simd-state.js';
import './sse4.js';
