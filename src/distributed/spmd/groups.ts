/**
 * Device groups of a mesh, shared by the SPMD reference interpreter, the runtime's workers and
 * the partitioner. Devices are numbered row-major over the mesh axes (device id = linear index
 * of its coordinates). A collective over mesh axes `axes` acts within each *group*: the devices
 * whose coordinates agree on every other axis. A device's rank in its group is the linear index
 * of its coordinates on `axes`, with `axes[0]` the major one (so the listed order, not the mesh
 * order, defines the ranks). Everything here is plain data and pure functions.
 */

import { ShapeError } from '../../core/errors.js';
import type { CollectiveGroup } from '../../core/primitives.js';

/** A mesh's axes as plain data (structurally the sharding module's `MeshShape`). */
export interface MeshShapeLike {
  readonly axisNames: readonly string[];
  readonly shape: readonly number[];
}

/** Number of devices of a mesh (the product of its axis sizes). */
export function meshSize(mesh: MeshShapeLike): number {
  return mesh.shape.reduce((a, b) => a * b, 1);
}

/** Checks that a mesh is well formed (distinct non-empty names, positive integer sizes). */
export function checkMesh(mesh: MeshShapeLike, where: string): void {
  const { axisNames, shape } = mesh;
  if (!Array.isArray(axisNames) || !Array.isArray(shape) || axisNames.length !== shape.length) {
    throw new ShapeError(`${where}: a mesh needs axisNames and shape of equal length, got ${JSON.stringify(mesh)}`);
  }
  if (axisNames.some((a) => typeof a !== 'string' || a === '') || new Set(axisNames).size !== axisNames.length) {
    throw new ShapeError(`${where}: mesh axis names ${JSON.stringify(axisNames)} must be distinct non-empty strings`);
  }
  if (shape.some((s) => !Number.isInteger(s) || s < 1)) throw new ShapeError(`${where}: mesh axis sizes ${JSON.stringify(shape)} must be positive integers`);
}

/** Coordinates of device `id` on each mesh axis (row-major numbering). */
export function deviceCoords(mesh: MeshShapeLike, id: number): number[] {
  const n = mesh.shape.length;
  const c = new Array<number>(n);
  let r = id;
  for (let i = n - 1; i >= 0; i--) {
    c[i] = r % mesh.shape[i];
    r = Math.floor(r / mesh.shape[i]);
  }
  return c;
}

/** Device id of the given coordinates. */
export function deviceId(mesh: MeshShapeLike, coords: readonly number[]): number {
  let id = 0;
  for (let i = 0; i < mesh.shape.length; i++) id = id * mesh.shape[i] + coords[i];
  return id;
}

/**
 * Checks a collective's group against the mesh: every axis exists, and `axisSizes` equals the
 * mesh sizes. Throws a ShapeError naming the primitive otherwise.
 */
export function checkGroupOnMesh(mesh: MeshShapeLike, p: CollectiveGroup, where: string): void {
  p.axes.forEach((a, i) => {
    const j = mesh.axisNames.indexOf(a);
    if (j < 0) throw new ShapeError(`${where}: mesh axis '${a}' is not in the mesh (axes ${JSON.stringify(mesh.axisNames)}); the per-device program was made for another mesh`);
    if (mesh.shape[j] !== p.axisSizes[i]) {
      throw new ShapeError(`${where}: axisSizes says mesh axis '${a}' has size ${p.axisSizes[i]} but the mesh has ${mesh.shape[j]}; the per-device program was made for another mesh shape`);
    }
  });
}

/** The group of `device` for a collective over `axes`: its members in rank order and its rank. */
export function groupOf(mesh: MeshShapeLike, axes: readonly string[], device: number): { members: number[]; rank: number } {
  const coords = deviceCoords(mesh, device);
  const idx = axes.map((a) => {
    const j = mesh.axisNames.indexOf(a);
    if (j < 0) throw new ShapeError(`mesh axis '${a}' is not in the mesh (axes ${JSON.stringify(mesh.axisNames)})`);
    return j;
  });
  const sizes = idx.map((j) => mesh.shape[j]);
  const k = sizes.reduce((a, b) => a * b, 1);
  const members = new Array<number>(k);
  const c = [...coords];
  for (let r = 0; r < k; r++) {
    let rr = r;
    for (let i = idx.length - 1; i >= 0; i--) {
      c[idx[i]] = rr % sizes[i];
      rr = Math.floor(rr / sizes[i]);
    }
    members[r] = deviceId(mesh, c);
  }
  let rank = 0;
  for (let i = 0; i < idx.length; i++) rank = rank * sizes[i] + coords[idx[i]];
  return { members, rank };
}

/** All groups of the mesh for a collective over `axes`, each in rank order, by lowest member. */
export function collectiveGroups(mesh: MeshShapeLike, axes: readonly string[]): number[][] {
  const seen = new Set<number>();
  const groups: number[][] = [];
  for (let d = 0; d < meshSize(mesh); d++) {
    if (seen.has(d)) continue;
    const { members } = groupOf(mesh, axes, d);
    members.forEach((m) => seen.add(m));
    groups.push(members);
  }
  return groups;
}

/** `{ axes, axisSizes }` for a collective over the given mesh axes. */
export function groupParams(mesh: MeshShapeLike, axes: readonly string[]): CollectiveGroup {
  return {
    axes: [...axes],
    axisSizes: axes.map((a) => {
      const j = mesh.axisNames.indexOf(a);
      if (j < 0) throw new ShapeError(`mesh axis '${a}' is not in the mesh (axes ${JSON.stringify(mesh.axisNames)})`);
      return mesh.shape[j];
    }),
  };
}
