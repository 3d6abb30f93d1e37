#!/usr/bin/env node
// A Node.js client of conversions.v1.ConversionService.
//
// It loads the contract from proto/ at run time (no generated code), calls
// Normalize, Classify and NormalizeStream, and reads a rejection the way any
// client should: from the google.rpc.Status in the grpc-status-details-bin
// trailer, branching on ErrorInfo.reason. It prints one JSON document.
//
// Usage:
//   node client.js --address HOST:PORT --proto-path DIR [--proto-path DIR ...]
//                  [--token TOKEN]
//
// The proto paths must hold conversions/v1/*.proto (the repository's proto/),
// google/rpc/*.proto (googleapis) and google/protobuf/*.proto (well-known
// types); the token, when given, is sent as `authorization: Bearer <token>`.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const STATUS_DETAILS_KEY = 'grpc-status-details-bin';
const LOADER_OPTIONS = {
  keepCase: true, // proto field names, as the README documents them
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

function parseArguments(argv) {
  const options = { address: '', protoPaths: [], token: '' };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--address') options.address = value;
    else if (flag === '--proto-path') options.protoPaths.push(value);
    else if (flag === '--token') options.token = value;
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!options.address || options.protoPaths.length === 0) {
    throw new Error('usage: node client.js --address HOST:PORT --proto-path DIR [...]');
  }
  return options;
}

// google.rpc.Status and its detail messages, decoded with protobufjs from the
// same include paths the service contract is loaded from.
function loadStatusTypes(protoPaths) {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    for (const directory of protoPaths) {
      const candidate = path.join(directory, target);
      if (fs.existsSync(candidate)) return candidate;
    }
    return target;
  };
  root.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], {
    keepCase: true,
  });
  return root;
}

// The detail messages of a google.rpc.Status (packed in google.protobuf.Any).
function unpackDetails(statusTypes, details) {
  return details.map((any) => {
    const typeName = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
    const type = statusTypes.lookupType(typeName);
    return { type: typeName, value: type.toObject(type.decode(any.value), { defaults: true }) };
  });
}

function errorInfo(details) {
  const found = details.find((detail) => detail.type === 'google.rpc.ErrorInfo');
  return found ? found.value : null;
}

// A failed call's google.rpc.Status, from its grpc-status-details-bin trailer.
function decodeStatus(statusTypes, error) {
  const [raw] = error.metadata.get(STATUS_DETAILS_KEY);
  if (!raw) return null;
  const status = statusTypes.lookupType('google.rpc.Status').decode(raw);
  return {
    code: status.code,
    message: status.message,
    details: unpackDetails(statusTypes, status.details),
  };
}

function unary(client, method, request, metadata) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline: Date.now() + 10000 }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

function stream(client, requests, metadata) {
  return new Promise((resolve, reject) => {
    const call = client.NormalizeStream(metadata, { deadline: Date.now() + 10000 });
    const replies = [];
    call.on('data', (reply) => replies.push(reply));
    call.on('error', reject);
    call.on('end', () => resolve(replies));
    for (const request of requests) call.write(request);
    call.end();
  });
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  const packageDefinition = protoLoader.loadSync('conversions/v1/conversion_service.proto', {
    ...LOADER_OPTIONS,
    includeDirs: options.protoPaths,
  });
  const { ConversionService } = grpc.loadPackageDefinition(packageDefinition).conversions.v1;
  const client = new ConversionService(options.address, grpc.credentials.createInsecure());
  const statusTypes = loadStatusTypes(options.protoPaths);
  const metadata = new grpc.Metadata();
  metadata.set('x-request-id', 'node-client');
  if (options.token) metadata.set('authorization', `Bearer ${options.token}`);

  const seed =
    'click_id=f8e3bf8dfba8b51ce3340&conversion_type=purchase&value=120' +
    '&currency=USD&transaction_id=24356562534585';
  const normalized = await unary(client, 'Normalize', { payload: { query: seed } }, metadata);
  const fromBody = await unary(
    client,
    'Normalize',
    {
      payload: {
        body: Buffer.from(JSON.stringify({ clickid: 'n1', amount: '$1,234.50', cur: 'eur' })),
        content_type: 'application/json',
      },
    },
    metadata,
  );
  const classified = await unary(
    client,
    'Classify',
    { payload: { query: 'commission=12.50' } },
    metadata,
  );

  let rejection = null;
  try {
    await unary(client, 'Normalize', { payload: { query: 'value=5' } }, metadata);
  } catch (error) {
    const status = decodeStatus(statusTypes, error);
    const details = status ? status.details : [];
    const badRequest = details.find((detail) => detail.type === 'google.rpc.BadRequest');
    rejection = {
      code: error.code,
      codeName: grpc.status[error.code],
      message: error.details,
      errorInfo: errorInfo(details),
      badRequest: badRequest ? badRequest.value : null,
      detailTypes: details.map((detail) => detail.type),
    };
  }

  const replies = await stream(
    client,
    [
      { request_id: 'a', request: { payload: { query: 'click_id=s1&value=3' } } },
      { request_id: 'b', request: { payload: { query: 'value=3' } } },
    ],
    metadata,
  );
  client.close();

  const conversion = (response) => response.conversion;
  process.stdout.write(
    `${JSON.stringify(
      {
        normalize: conversion(normalized),
        normalizeBody: conversion(fromBody),
        classify: classified,
        rejection,
        stream: replies.map((reply) => ({
          request_id: reply.request_id,
          result: reply.result,
          event_name: reply.response ? reply.response.conversion.event_name : null,
          error_code: reply.error ? reply.error.code : null,
          error_reason: reply.error
            ? errorInfo(unpackDetails(statusTypes, reply.error.details)).reason
            : null,
        })),
      },
      null,
      2,
    )}\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
