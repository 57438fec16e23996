using System.Buffers;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace Functional.Examples.Service;

/// <summary>The answer to <c>POST /predict</c>: one prediction per instance, and its argmax when a prediction is a vector.</summary>
public sealed record PredictResponse(
    [property: JsonPropertyName("predictions")] float[][] Predictions,
    [property: JsonPropertyName("classes")] int[]? Classes);

/// <summary>The answer to <c>GET /health</c>.</summary>
public sealed record HealthResponse(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("input_shape")] int[] InputShape,
    [property: JsonPropertyName("output_shape")] int[] OutputShape);

/// <summary>Every 4xx/5xx answer: <c>{"error": "…"}</c>, as TF Serving answers.</summary>
public sealed record ErrorResponse([property: JsonPropertyName("error")] string Error);

/// <summary>The HTTP service: endpoints, body limits and the mapping of bad input to 400.</summary>
public static class ServiceHost
{
    /// <summary>
    /// Builds the service for an already-loaded model. <paramref name="configure"/> may adjust the builder (URLs, logging)
    /// before the app is built; the tests and the benchmark listen on <c>http://127.0.0.1:0</c> this way.
    /// </summary>
    public static WebApplication Create(ServedModel model, ServiceOptions options, string[]? args = null, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        var builder = WebApplication.CreateSlimBuilder(args ?? []);
        configure?.Invoke(builder);
        return Create(builder, model, options);
    }

    /// <summary>Maps the endpoints on a builder that already holds the configuration.</summary>
    public static WebApplication Create(WebApplicationBuilder builder, ServedModel model, ServiceOptions options)
    {
        // The service enforces MaxBodyBytes itself (ReadBodyAsync: a declared length up front, a chunked one as it arrives).
        // Kestrel's own limit is lifted so that, after the 400, it can drain what the client is still sending (for up to
        // its drain timeout, 5 s) and the client reads the answer; with the limit, Kestrel would close the connection on
        // unread data and the client, still writing, would see a broken pipe instead of the message.
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
        builder.Services.AddSingleton(model);
        builder.Services.AddSingleton(options);
        var app = builder.Build();
        var batcher = options.MicroBatch ? new MicroBatcher(model, options.BatchSize) : null;
        if (batcher is not null)
            app.Lifetime.ApplicationStopped.Register(() => batcher.DisposeAsync().AsTask().GetAwaiter().GetResult());

        // Anything not anticipated is a 500 with a JSON message and a log entry (never a stack trace to the client).
        app.UseExceptionHandler(handler => handler.Run(async context =>
        {
            var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            if (error is BadHttpRequestException bad)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                await context.Response.WriteAsJsonAsync(new ErrorResponse(BadBodyMessage(bad, options)));
                return;
            }
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            await context.Response.WriteAsJsonAsync(new ErrorResponse("Internal error; the service log has the details."));
        }));

        app.MapGet("/health", (ServedModel m) => Results.Json(
            new HealthResponse("ok", m.Name, m.InputShape.ToKnownArray(), m.OutputShape.ToKnownArray())));

        app.MapPost("/predict", async (HttpContext context, ServedModel m, ServiceOptions o) =>
        {
            try
            {
                var batch = await ReadInstancesAsync(context.Request, m, o, context.RequestAborted);
                var outputs = batcher is null ? m.Predict(batch.Values, batch.Count) : await batcher.PredictAsync(batch.Values, batch.Count);
                return Results.Json(Response(outputs, batch.Count, m));
            }
            catch (BadRequestException e)
            {
                return Results.Json(new ErrorResponse(e.Message), statusCode: StatusCodes.Status400BadRequest);
            }
            catch (BadHttpRequestException e)
            {
                return Results.Json(new ErrorResponse(BadBodyMessage(e, o)), statusCode: StatusCodes.Status400BadRequest);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                return Results.Empty;   // the client went away; nobody reads an answer
            }
        });
        return app;
    }

    private static PredictResponse Response(float[] outputs, int count, ServedModel model)
    {
        var size = model.OutputSize;
        var predictions = new float[count][];
        for (var i = 0; i < count; i++) predictions[i] = outputs.AsSpan(i * size, size).ToArray();
        int[]? classes = null;
        if (model.OutputShape.Rank == 1)
        {
            classes = new int[count];
            for (var i = 0; i < count; i++)
            {
                var p = predictions[i];
                var best = 0;
                for (var k = 1; k < p.Length; k++) if (p[k] > p[best]) best = k;
                classes[i] = best;
            }
        }
        return new PredictResponse(predictions, classes);
    }

    private static string BadBodyMessage(BadHttpRequestException e, ServiceOptions options) =>
        e.StatusCode == StatusCodes.Status413PayloadTooLarge
            ? TooLarge(options)
            : $"The request could not be read: {e.Message}";

    private static string TooLarge(ServiceOptions options) =>
        $"The request body is larger than {options.MaxBodyBytes} bytes, the most this service takes (--max-body-bytes).";

    /// <summary>The request's instances, by its content type: JSON, one raw image, or multipart image files.</summary>
    internal static async Task<InstanceBatch> ReadInstancesAsync(HttpRequest request, ServedModel model, ServiceOptions options, CancellationToken cancel)
    {
        var contentType = request.ContentType;
        if (string.IsNullOrWhiteSpace(contentType))
            throw new BadRequestException("The request has no Content-Type; " + Accepted);
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media) || media.MediaType.Value is not { } mediaType)
            throw new BadRequestException($"The Content-Type '{contentType}' cannot be parsed; " + Accepted);
        mediaType = mediaType.ToLowerInvariant();
        if (mediaType is not ("application/json" or "image/png" or "image/jpeg" or "multipart/form-data"))
            throw new BadRequestException($"The Content-Type '{mediaType}' is not accepted; " + Accepted);

        var body = await ReadBodyAsync(request, options.MaxBodyBytes, cancel);
        switch (mediaType)
        {
            case "application/json":
                return JsonInstances.Read(body, model, options, (bytes, name) => ImageInstances.Decode(bytes, model, name, options.MaxImagePixels));
            case "image/png" or "image/jpeg":
                if (body.Length == 0) throw new BadRequestException($"The {mediaType} body is empty.");
                return new InstanceBatch(ImageInstances.Decode(body.ToArray(), model, "The request body", options.MaxImagePixels), 1);
            default:
                var boundary = HeaderUtilities.RemoveQuotes(media.Boundary).Value;
                if (string.IsNullOrEmpty(boundary))
                    throw new BadRequestException("The multipart/form-data Content-Type has no boundary.");
                return await ReadMultipartAsync(body, boundary, model, options, cancel);
        }
    }

    private const string Accepted =
        "send application/json ({\"instances\": [...]}), an image/png or image/jpeg body, or multipart/form-data with image files.";

    // Each file part of a multipart body is one image instance.
    private static async Task<InstanceBatch> ReadMultipartAsync(ReadOnlyMemory<byte> body, string boundary, ServedModel model, ServiceOptions options, CancellationToken cancel)
    {
        var images = new List<float[]>();
        try
        {
            using var stream = new MemoryStream(body.ToArray(), writable: false);
            var reader = new MultipartReader(boundary, stream) { BodyLengthLimit = options.MaxBodyBytes };
            while (await reader.ReadNextSectionAsync(cancel) is { } section)
            {
                var disposition = section.GetContentDispositionHeader();
                var field = disposition?.Name.Value ?? "";
                var file = disposition?.FileName.Value ?? disposition?.FileNameStar.Value;
                var name = file is null ? $"part '{field}'" : $"part '{field}' ({file})";
                if (file is null && !(section.ContentType?.StartsWith("image/", StringComparison.OrdinalIgnoreCase) ?? false))
                    throw new BadRequestException($"The multipart {name} is not a file; send each image as a file part (curl -F 'image=@digit.png').");
                if (images.Count == options.MaxInstances)
                    throw new BadRequestException($"The request has more than {options.MaxInstances} images, the most this service takes per request (--max-instances).");
                using var part = new MemoryStream();
                await section.Body.CopyToAsync(part, cancel);
                if (part.Length == 0) throw new BadRequestException($"The multipart {name} is empty.");
                images.Add(ImageInstances.Decode(part.ToArray(), model, $"The multipart {name}", options.MaxImagePixels));
            }
        }
        catch (IOException e)
        {
            throw new BadRequestException($"The multipart/form-data body is malformed: {e.Message}");
        }
        if (images.Count == 0) throw new BadRequestException("The multipart/form-data body has no image files.");
        var values = new float[(long)images.Count * model.InputSize];
        for (var i = 0; i < images.Count; i++) images[i].CopyTo(values, i * model.InputSize);
        return new InstanceBatch(values, images.Count);
    }

    // Reads the whole body, refusing one longer than the limit: a declared Content-Length up front, an undeclared
    // (chunked) length as it arrives.
    private static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpRequest request, long limit, CancellationToken cancel)
    {
        if (request.ContentLength > limit) throw new BadRequestException($"The request body is {request.ContentLength} bytes; the most this service takes is {limit} (--max-body-bytes).");
        var capacity = (int)Math.Min(request.ContentLength ?? 16 * 1024, limit);
        var buffer = new MemoryStream(capacity);
        var chunk = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk, cancel)) > 0)
            {
                if (buffer.Length + read > limit)
                    throw new BadRequestException($"The request body is larger than {limit} bytes, the most this service takes (--max-body-bytes).");
                buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }

    /// <summary>The command-line entry point: parses the options, loads the model (exit code 2 if it cannot), serves.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Any(a => a is "-h" or "--help"))
        {
            Console.Write(ServiceOptions.Usage);
            return 0;
        }
        if (ServiceOptions.UnknownSwitch(args) is { } unknown)
            return Fail($"Unknown option '{unknown}'. Run with --help for the options.");
        var builder = WebApplication.CreateSlimBuilder(args);
        // Environment variables FUNCTIONAL_SERVICE_*, then the command line again so that it wins; --model etc. map to keys.
        builder.Configuration.AddEnvironmentVariables(ServiceOptions.EnvironmentPrefix);
        ServiceOptions options;
        Functional.Torch.Device device;
        try
        {
            // With switch mappings the command-line provider throws FormatException for a short switch it does not know (-x).
            builder.Configuration.AddCommandLine(args, ServiceOptions.Switches.ToDictionary());
            options = ServiceOptions.From(builder.Configuration);
            device = Functional.Torch.Device.Parse(options.Device);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            return Fail(e.Message);
        }
        ServedModel model;
        try
        {
            model = ServedModel.Load(options.ModelPath, device, options.BatchSize);
        }
        catch (ModelLoadException e)
        {
            return Fail(e.Message);
        }
        using (model)
        {
            await using var app = Create(builder, model, options);
            app.Logger.LogInformation("Serving model '{Model}' ({Config}, {Weights}): input {Input}, output {Output}, on {Device}",
                model.Name, model.ConfigPath, model.WeightsPath, model.InputShape.ToSampleString(), model.OutputShape.ToSampleString(), device);
            try
            {
                await app.StartAsync();
            }
            catch (Exception e) when (e is IOException or FormatException or InvalidOperationException)
            {
                // A bad --urls or a port in use: one line and exit code 2, as for the other start-up errors.
                return Fail($"Cannot listen on {builder.Configuration["urls"] ?? "the configured URLs"}: {e.Message}");
            }
            await app.WaitForShutdownAsync();
        }
        return 0;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"service: {message}");
        return 2;
    }
}
