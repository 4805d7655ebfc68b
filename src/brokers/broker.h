// The broker interface is public (ferry/broker.h): an embedding program can
// implement its own. Ferry's adapters include it through this path.
#pragma once

#include "ferry/broker.h"
