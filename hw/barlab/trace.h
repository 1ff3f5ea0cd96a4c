#include "trace/trace-hw_barlab.h"
