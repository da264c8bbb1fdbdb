import type { FactoryService } from './service.ts';
import type { FactoryApi, StationCaller } from './types.ts';

/** The FactoryApi of an in-process FactoryService, acting as one station. */
export function localFactoryApi(service: FactoryService, station: StationCaller): FactoryApi {
  return {
    begin: (r) => service.begin(station, r),
    start: (r) => service.start(station, r),
    issue: (r) => service.issue(station, r),
    seal: (r) => service.seal(station, r),
    firmware: (b) => service.firmware(station, b),
    complete: (r) => service.complete(station, r),
    abort: (r) => service.abort(station, r),
  };
}
