import { MemoryBus } from '../../core/bus/memory.ts';
import { busConformance } from './conformance.ts';

busConformance('memory', () => new MemoryBus({ retryDelayMs: 50 }));
