using System.Buffers.Binary;
using System.IO.Compression;

namespace KeyPool.Simulation;

/// <summary>
/// A small RGB canvas that draws lines, rectangles and digits and saves a PNG. Fully managed (zlib from the
/// base library, CRC-32 here): the chart needs no native drawing library and no font files on the machine.
/// </summary>
internal sealed class PngCanvas
{
    private readonly byte[] _pixels;

    public PngCanvas(int width, int height, (byte R, byte G, byte B) background)
    {
        Width = width;
        Height = height;
        _pixels = new byte[width * height * 3];
        Fill(0, 0, width, height, background);
    }

    public int Width { get; }

    public int Height { get; }

    public void Set(int x, int y, (byte R, byte G, byte B) color)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height)
        {
            return;
        }
        var i = ((y * Width) + x) * 3;
        _pixels[i] = color.R;
        _pixels[i + 1] = color.G;
        _pixels[i + 2] = color.B;
    }

    public void Fill(int x, int y, int width, int height, (byte R, byte G, byte B) color)
    {
        for (var yy = y; yy < y + height; yy++)
        {
            for (var xx = x; xx < x + width; xx++)
            {
                Set(xx, yy, color);
            }
        }
    }

    /// <summary>A line of <paramref name="thickness"/> pixels (Bresenham, thickened by a square pen).</summary>
    public void Line(int x0, int y0, int x1, int y1, (byte R, byte G, byte B) color, int thickness = 1)
    {
        int dx = Math.Abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
        int dy = -Math.Abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
        var error = dx + dy;
        var half = thickness / 2;
        while (true)
        {
            Fill(x0 - half, y0 - half, thickness, thickness, color);
            if (x0 == x1 && y0 == y1)
            {
                return;
            }
            var e2 = 2 * error;
            if (e2 >= dy)
            {
                error += dy;
                x0 += sx;
            }
            if (e2 <= dx)
            {
                error += dx;
                y0 += sy;
            }
        }
    }

    /// <summary>Writes <paramref name="text"/> (digits, '%', 'h', '.', ' ') with its top-left at (x, y), each glyph 5×7 scaled by <paramref name="scale"/>.</summary>
    public void Text(int x, int y, string text, (byte R, byte G, byte B) color, int scale = 2)
    {
        foreach (var c in text)
        {
            if (Glyphs.TryGetValue(c, out var rows))
            {
                for (var row = 0; row < 7; row++)
                {
                    for (var column = 0; column < 5; column++)
                    {
                        if ((rows[row] & (1 << (4 - column))) != 0)
                        {
                            Fill(x + (column * scale), y + (row * scale), scale, scale, color);
                        }
                    }
                }
            }
            x += 6 * scale;
        }
    }

    public static int TextWidth(string text, int scale = 2) => text.Length * 6 * scale;

    public void Save(string path)
    {
        using var file = File.Create(path);
        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, Width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), Height);
        header[8] = 8; // bit depth
        header[9] = 2; // truecolour RGB
        Chunk(file, "IHDR", header);
        using var raw = new MemoryStream();
        using (var zlib = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
        {
            for (var y = 0; y < Height; y++)
            {
                zlib.WriteByte(0); // filter: none
                zlib.Write(_pixels, y * Width * 3, Width * 3);
            }
        }
        Chunk(file, "IDAT", raw.ToArray());
        Chunk(file, "IEND", []);
    }

    private static void Chunk(Stream stream, string type, byte[] data)
    {
        Span<byte> number = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(number, data.Length);
        stream.Write(number);
        var typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
        stream.Write(typeBytes);
        stream.Write(data);
        var crc = Crc32(Crc32(0xFFFFFFFFu, typeBytes), data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(number, crc);
        stream.Write(number);
    }

    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        var c = (uint)n;
        for (var k = 0; k < 8; k++)
        {
            c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        return c;
    }).ToArray();

    private static uint Crc32(uint crc, byte[] data)
    {
        foreach (var b in data)
        {
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }
        return crc;
    }

    // 5×7 glyphs, one byte per row, high bit = left column.
    private static readonly Dictionary<char, byte[]> Glyphs = new()
    {
        ['0'] = [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        ['1'] = [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        ['2'] = [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        ['3'] = [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        ['4'] = [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        ['5'] = [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        ['6'] = [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        ['7'] = [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        ['8'] = [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        ['9'] = [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        ['%'] = [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        ['h'] = [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11],
        ['.'] = [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        [' '] = [0, 0, 0, 0, 0, 0, 0],
    };
}
